"""flowqd.reactor"""

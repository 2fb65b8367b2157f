"""flowqd.twin"""

"""flowqd.analysis"""

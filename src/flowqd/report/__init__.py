"""flowqd.report"""

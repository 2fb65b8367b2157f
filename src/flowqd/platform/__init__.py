"""flowqd.platform"""

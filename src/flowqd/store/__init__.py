"""flowqd.store"""

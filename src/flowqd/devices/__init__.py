"""flowqd.devices"""

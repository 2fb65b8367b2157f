"""flowqd.kinetics"""

"""editing_core"""

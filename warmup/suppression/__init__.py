"""suppression"""

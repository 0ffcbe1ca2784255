"""Recorded vendor traffic: vcrpy cassettes (HTTP) and frame logs (WebSocket).

Shipped as package data so that ``llmplex demo`` can replay them with no network.
"""

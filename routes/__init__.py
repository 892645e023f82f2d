"""Thin adapters: each parses a request, calls one domain function and shapes the response."""

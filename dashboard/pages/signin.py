"""Placeholder page while signed out: app.py renders the sign-in form before navigation."""

"""Gradio UI pieces of the web app (app.py builds the page from them)."""

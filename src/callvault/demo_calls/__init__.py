"""The demo's spoken sample calls (Ogg Opus, made by tools/make_demo_calls.py)."""

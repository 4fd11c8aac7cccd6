"""Transcripts as tests: replay against a server, and record a live session."""

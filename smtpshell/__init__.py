"""smtpshell: talk to SMTP servers by hand, record and replay sessions, send mail."""

__version__ = "0.1.0"

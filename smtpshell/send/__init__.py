"""Messages for ``smtpshell send``: composed from options, or prepared and sent as is.

- :mod:`~smtpshell.send.message`: :class:`OutgoingMessage`, the envelope, size, needs
  (SMTPUTF8, 8BITMIME) and streamed bytes the transaction sends.
- :mod:`~smtpshell.send.compose`: :func:`compose` a :class:`ComposeRequest`.
- :mod:`~smtpshell.send.raw`: :func:`read_raw` a prepared RFC 5322 message.
- :mod:`~smtpshell.send.preview`: the lines ``--dry-run`` prints.
"""

"""The yardstick a Python user writes: send one message file with smtplib."""

import smtplib
import ssl
import sys

host, port, sender, recipient, path, *ca_file = sys.argv[1:]
with open(path, "rb") as file:
    message = file.read()
with smtplib.SMTP(host, int(port)) as client:
    if ca_file:
        client.starttls(context=ssl.create_default_context(cafile=ca_file[0]))
    client.sendmail(sender, [recipient], message)

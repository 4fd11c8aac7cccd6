"""COUNT messages with smtplib, on one connection or (--connections) one each.

The message file is a template: @N@ becomes the message's number.
"""

import smtplib
import sys

host, port, sender, recipient, path, count, mode = sys.argv[1:]
with open(path, "rb") as file:
    template = file.read()
messages = [template.replace(b"@N@", str(n).encode()) for n in range(int(count))]
if mode == "--one-connection":
    with smtplib.SMTP(host, int(port)) as client:
        for message in messages:
            client.sendmail(sender, [recipient], message)
else:
    for message in messages:
        with smtplib.SMTP(host, int(port)) as client:
            client.sendmail(sender, [recipient], message)

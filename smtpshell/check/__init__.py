"""``smtpshell check DOMAIN``: what a domain's mail setup looks like from outside."""

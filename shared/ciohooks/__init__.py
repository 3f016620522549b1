"""cio-hooks: provider webhooks in, Customer.io semantic events out.

The library behind the Lambda functions (shipped as a layer), the local server and the CLI.
"""

__version__ = "0.1.0"

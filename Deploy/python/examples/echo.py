"""The smallest handler: each payload back as text, upper-cased. Serve it with

    harmonybatch-worker --kind cpu --handler echo:upper --bootstrap HOST:PORT

from this folder (MODULE is imported from the current directory)."""


def upper(payloads, function):
    return [payload.decode("utf-8", "replace").upper() for payload in payloads]

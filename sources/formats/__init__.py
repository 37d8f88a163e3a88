"""Container formats and record framing: compressed streams, archives, WARC, HTTP, XML dumps, lines."""

"""Apache Beam graphs: one module per source, plus shared options, sinks and accounting."""

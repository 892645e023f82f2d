"""What every layer shares: settings, errors, JSON shapes, the acting user and tokens, values, metrics, loops."""

"""Ready-made jobs that train through `model.fit`, evaluate and export."""

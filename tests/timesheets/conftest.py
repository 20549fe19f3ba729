from timesheets.desk import desk

__all__ = ["desk"]

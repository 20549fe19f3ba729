from timesheets.desk import desk, desk_settings

__all__ = ["desk", "desk_settings"]

"""Ray's engine stage passes this class as a stat logger when `log_engine_metrics` is on (the default)."""


class RayPrometheusStatLogger:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

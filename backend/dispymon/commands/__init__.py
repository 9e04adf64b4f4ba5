"""The command channel, cluster-agnostic: importing the package registers every command."""

from dispymon.commands import alerts, bulk, cluster, jobs, queries, timeline  # noqa: F401  (their @command decorators fill the registry)

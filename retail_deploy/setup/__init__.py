"""What `setup.*` does: the runbook's "Required Tools" (installed, recent enough) and its
Appendix (kubeconfig, Helm repositories, Grafana dashboards) as settings
(docs/architecture.md, "Chapters").
"""

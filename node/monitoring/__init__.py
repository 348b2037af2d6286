"""Seed 002 stage 4: post-loan monitoring, the hub's alerts, risk-check dispositions, KPIs."""

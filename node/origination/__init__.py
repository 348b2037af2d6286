"""The node's loan-origination pipeline (seed 002 stages 1-3): products, states, decisions,
due diligence, contracts and disbursement."""

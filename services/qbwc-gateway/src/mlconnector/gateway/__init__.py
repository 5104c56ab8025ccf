"""The QuickBooks Web Connector gateway: SOAP endpoint in front of the QB_COMMANDS stream."""

"""Input and output shapes of the projects/tasks API, by subdomain.

Output serializers render the snapshots of tasks.events (a test holds each equal to
DRF's field-by-field output of the declared fields, which the OpenAPI schema shows), so
the API and the events show one representation. Input serializers (StrictInput) check
types and shapes; the domain's rules come from tasks.rules. No queries: selectors load
what these read.
"""

"""One module per API family; each turns a request body into a ResponsePlan."""

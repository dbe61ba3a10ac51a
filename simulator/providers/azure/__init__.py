"""Azure OpenAI: the deployment API, the v1 API and Azure AI Foundry model inference, over OpenAI's planners."""

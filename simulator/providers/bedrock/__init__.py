"""Amazon Bedrock Runtime: Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream."""

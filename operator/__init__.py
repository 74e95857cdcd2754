"""GolemPipeline operator (kopf): reconciles the pipeline CRD into KServe InferenceServices."""

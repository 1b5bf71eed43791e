"""The test harness of the fastapi-roadmap template: questionnaire, matrix, rendering, checks."""

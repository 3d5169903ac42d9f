"""Stage 5: the built site is published to S3 behind CloudFront.

plan compares the site with the bucket (pure); sync uploads, deletes and invalidates; report
says what happened.
"""

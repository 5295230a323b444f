"""Files under users' paths (local or gs://) and the pictures and videos written there."""

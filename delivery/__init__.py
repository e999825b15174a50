"""What authoring and sending both need: template rendering, the URL guard, channel settings, signing."""

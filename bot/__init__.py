"""digit-bot: reads the handwritten digit in a posted picture and says how sure it is."""

module forge-plugin-counter-drift

go 1.24

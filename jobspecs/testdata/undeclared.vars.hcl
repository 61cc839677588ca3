image = "nginx:1.27"
colour = "blue"

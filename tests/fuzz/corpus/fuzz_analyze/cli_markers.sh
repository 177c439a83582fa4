# run with --hardware webgpu,webnn --browser chrome

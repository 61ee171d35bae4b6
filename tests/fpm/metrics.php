<?php

declare(strict_types=1);

// Served by MetricsTest's PHP-FPM pool: the pool's metrics as this worker
// reads them, after the worker's pid on the first line. hold_ms keeps the
// worker busy afterwards, so that concurrent requests go to other workers.

header('Content-Type: text/plain; version=0.0.4');
echo getmypid(), "\n", Mqtt\Client::metrics();
usleep(1000 * (int) ($_GET['hold_ms'] ?? 0));

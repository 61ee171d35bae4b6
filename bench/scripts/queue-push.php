<?php

declare(strict_types=1);

// Dispatches count=N empty jobs on queue connection connection=NAME of the
// package's test application (laravel-adapter/tests/app, configured through the
// environment QueueBench gives it) and prints {"seconds": ...}.

require dirname(__DIR__, 2) . '/laravel-adapter/tests/autoload.php';
require __DIR__ . '/common.php';

use Illuminate\Contracts\Console\Kernel;
use MqttBroadcast\Laravel\Tests\App\EmptyJob;

$options = bench_options($argv);
$app = require dirname(__DIR__, 2) . '/laravel-adapter/tests/app/bootstrap/app.php';
$app->make(Kernel::class)->bootstrap();
$count = (int) $options['count'];
$start = hrtime(true);
for ($i = 0; $i < $count; $i++) {
    EmptyJob::dispatch()->onConnection($options['connection']);
}
echo json_encode(['seconds' => (hrtime(true) - $start) / 1e9]), "\n";

<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Tests\App;

use Illuminate\Bus\Queueable;
use Illuminate\Contracts\Queue\ShouldQueue;
use Illuminate\Foundation\Bus\Dispatchable;
use Illuminate\Queue\InteractsWithQueue;

/** A job that does nothing: what the queue benchmark (bench/lib/QueueBench.php) measures is the queue. */
class EmptyJob implements ShouldQueue
{
    use Dispatchable;
    use InteractsWithQueue;
    use Queueable;

    public function handle(): void
    {
    }
}

<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Http\Controllers;

use Illuminate\Http\Response;
use Mqtt\Client;

/**
 * The counters of every process of the PHP-FPM pool, in the Prometheus text
 * format: the extension keeps them in memory its workers share, so whichever
 * worker answers the scrape, the figures are the pool's.
 */
class MetricsController
{
    public function __invoke(): Response
    {
        if (!method_exists(Client::class, 'metrics')) {
            return new Response("the mqtt_broadcast extension is not loaded\n", 503, ['Content-Type' => 'text/plain; charset=utf-8']);
        }
        return new Response(Client::metrics(), 200, ['Content-Type' => 'text/plain; version=0.0.4; charset=utf-8']);
    }
}

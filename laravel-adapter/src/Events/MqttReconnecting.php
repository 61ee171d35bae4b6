<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Events;

/** The extension tries a connection of the daemon again; $attempt counts the tries. */
class MqttReconnecting extends MqttConnectionEvent
{
}

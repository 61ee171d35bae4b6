<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Events;

/** A connection of the daemon went down; the extension reconnects by itself (MqttReconnecting). */
class MqttConnectionLost extends MqttConnectionEvent
{
}
